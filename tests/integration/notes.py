"""Sample notes used by the integration tests."""

NOTES = """# Why Octopuses Are So Smart

Octopuses have about 500 million neurons, most of them in their arms rather than the brain.
Each arm can taste what it touches through thousands of suckers.

## Camouflage

Special skin cells called chromatophores let an octopus change colour in a fraction of a second.
They can also change the texture of their skin to match rocks and coral.
See [this video](https://example.com/octopus) for a demonstration.

## Problem solving

- Octopuses open jars to reach food inside.
- In aquariums they have escaped tanks and crossed floors at night.
- Some species carry coconut shells to use as portable shelters.

## Short lives

Most octopuses live only one or two years, which makes their learning ability more surprising.
"""
