"""Reports: content assembled once, rendered as HTML or Markdown."""
