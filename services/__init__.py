"""The four FaaSpot services (api, registry, executor, results) and their launcher."""
