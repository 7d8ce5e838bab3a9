"""The folder `tmt run` puts first on a command's PYTHONPATH: it holds only sitecustomize.py."""
