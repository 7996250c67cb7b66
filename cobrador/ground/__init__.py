"""The ground floor: settings, user errors and process resources (embedded Redis).

Every other package may import from here; nothing here imports any of them.
"""
