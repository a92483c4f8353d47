from greet.greet import banner, greeting

__all__ = ["banner", "greeting"]
