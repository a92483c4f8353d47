"""How the extension macros name what they generate, as rules_rust derives a crate name from a label."""

def crate_name(label_name):
    return label_name.replace("-", "_")

NAMING = struct(
    config_suffix = "_config",
    # A lambda stored in a struct, called by the macros.
    json_name = lambda name: name + ".json",
)
