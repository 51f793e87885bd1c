"""Model architectures and pretrained-weight conversion for the skin-lesion classifier."""
