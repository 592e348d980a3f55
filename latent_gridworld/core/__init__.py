"""The world core: configuration, maze generation, tasks and transitions."""
