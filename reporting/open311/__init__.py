"""Open311 GeoReport v2 on Sada's stream: services are categories, a service request is a
demand. `mapping` translates both ways (pure); `api` serves `/open311/v2/...`."""
