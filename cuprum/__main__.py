"""``python -m cuprum demo|info``."""

from cuprum._cli import main

raise SystemExit(main())
