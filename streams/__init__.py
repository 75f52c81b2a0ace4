"""Event schemas, topic names, serializers and Kafka helpers shared by Haven's services."""
