"""Autobahn TestSuite conformance run (kosoku fuzzing server) for jetsocket's client."""
