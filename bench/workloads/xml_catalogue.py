"""Parse XML product catalogues with ElementTree and total the prices per category.

Model as written: threads (multiprocessing.pool.ThreadPool). expat and the tree building
hold the GIL.
"""

import sys
import xml.etree.ElementTree as ET
from multiprocessing.pool import ThreadPool


def items() -> list[str]:
    docs = []
    for n in range(48):
        products = "".join(
            f'<product id="{n}-{i}" category="c{i % 7}"><name>Item {i}</name>'
            f"<price currency='EUR'>{i % 100}.{i % 10}0</price>"
            "<tags><t>x</t><t>y</t></tags></product>"
            for i in range(2500)
        )
        docs.append(f"<catalogue>{products}</catalogue>")
    return docs


def work(doc: str) -> dict[str, float]:
    root = ET.fromstring(doc)
    totals: dict[str, float] = {}
    for product in root.iter("product"):
        price = product.find("price")
        category = product.get("category", "")
        totals[category] = totals.get(category, 0.0) + float(
            price.text if price is not None and price.text else 0
        )
    return totals


def main() -> None:
    data = items()
    if "--serial" in sys.argv:
        results = [work(d) for d in data]
    else:
        with ThreadPool(4) as pool:
            results = pool.map(work, data)
    print("xml_catalogue", round(sum(sum(r.values()) for r in results), 2))


if __name__ == "__main__":
    main()
