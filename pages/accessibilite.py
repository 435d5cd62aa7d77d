"""Accessibilité: the « Déclaration d'accessibilité » (RGAA), for every role."""

from registre.web.accessibility import render_accessibility_statement
from registre.web.auth import require_actor

require_actor()

render_accessibility_statement()
