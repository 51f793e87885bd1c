"""Fetching images from user-supplied URLs without opening an SSRF door."""
