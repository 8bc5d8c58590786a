"""The whole service on the offline stack: template.yaml on moto, the real ASL and handlers."""
