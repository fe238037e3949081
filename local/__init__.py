"""The local stack: moto in server mode, Chalice's local server and a pump. Not packaged."""
