"""Entry point of ``python -m jetsocket`` and of the ``jetsocket`` console script."""

from jetsocket._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
