"""Storage: ``dynamo`` is the only module that talks to DynamoDB."""
