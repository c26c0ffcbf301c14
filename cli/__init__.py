"""The command-line front end: loads a bundle once, runs the engines, renders their results."""
