from setuptools import setup

# For `--setup_file` on Beam runners; the metadata lives in setup.cfg.
setup()
