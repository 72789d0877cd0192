"""Developer tools on top of the definitions: the smepulse CLI, the demo, the sample-data
generator, running jobs outside the UI."""
