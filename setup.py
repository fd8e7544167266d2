"""Package discovery: every package under ganzoo/, plus the zoo (exported/) as ganzoo._exported.

Everything else is in pyproject.toml; setuptools' declarative find cannot add a package that lives
outside the source tree, so this is the one thing said in code.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["ganzoo", "ganzoo.*"]), "ganzoo._exported"])
