from krtheory.cli import main

raise SystemExit(main())
