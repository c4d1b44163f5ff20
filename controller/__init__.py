"""The controller: informers, the work queue, reconcilers and the scheduler."""
