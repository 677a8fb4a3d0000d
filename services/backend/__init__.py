"""The backend: products in MongoDB, product images in the object store."""
