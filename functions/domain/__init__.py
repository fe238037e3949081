"""The domain: pure Python, no boto3, tested without AWS."""
