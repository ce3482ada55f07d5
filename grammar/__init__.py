"""The .lark grammar of the .lag language, shipped as package data."""
