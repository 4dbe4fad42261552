"""Members, adhesions and the adhesion fee schedule."""
