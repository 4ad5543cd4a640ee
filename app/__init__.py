"""The China–Central Asia summit-data API."""
