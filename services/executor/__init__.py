"""The executor: consumes invocations and runs user code outside its own process."""
