"""The local stack: an embedded AWS (moto server, optionally DynamoDB Local) and the same handlers."""
