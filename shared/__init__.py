"""Code common to the four FaaSpot services: settings, messages, errors, AMQP, MongoDB."""
