from concdiag.schema import main

main()
