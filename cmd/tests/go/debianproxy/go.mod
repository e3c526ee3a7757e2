module example.invalid/minikafka/debianproxy

go 1.19
