"""Every HTML report clm writes, on one stack: a base template, shared macros and inline SVG
figures, so each page opens offline and looks like the others."""
