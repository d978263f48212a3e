"""The generation tasks (t2v, i2v, long, extend, animate, compose): thin orchestration over diffusers components."""
