"""The streaming shell: the core wired into a Faust app on Kafka. The core never imports it."""
