"""Archive storage backends behind one protocol, and the signed URLs that serve them."""
