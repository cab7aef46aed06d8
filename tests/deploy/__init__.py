"""Tests of what deploy/, the Dockerfile and the install script ship."""
