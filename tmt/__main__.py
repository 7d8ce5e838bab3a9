"""`python -m tmt`: the tmt command, for environments where the `tmt` script is not on PATH."""
from tmt.cli import main

if __name__ == "__main__":
    main()
