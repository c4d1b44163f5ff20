"""What the controller and the agents share: the Store, the key layout, clock, errors, loops."""
