# The same in a template.
# WANT: Configuration too large to evaluate
locals {
  x = "%{for a in range(1000)}%{for b in range(1000)}%{for c in range(1000)}x%{endfor}%{endfor}%{endfor}"
}
