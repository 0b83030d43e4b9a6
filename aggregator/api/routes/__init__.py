"""One router per resource; `aggregator.api.app.create_app` mounts them."""
