from odibi_dagster.cli.main import main

raise SystemExit(main())
