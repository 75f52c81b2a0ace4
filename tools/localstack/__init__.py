"""The local stack without Docker: Apache Kafka (KRaft) from Maven jars and FerretDB built with Go."""
