"""A small module to try Deskmate on: ask for a completion at the end of `mean`."""


def total(values: list[float]) -> float:
    """The sum of `values`."""
    result = 0.0
    for value in values:
        result += value
    return result


def mean(values: list[float]) -> float:
    """The arithmetic mean of `values`; 0.0 for an empty list."""
    if not values:
        return 0.0
    return 
