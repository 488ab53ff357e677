"""Layer 3: plain immutable data describing how to run and what came back."""
