"""Scale-out backends behind the index's interfaces: Milvus (a `VectorStore`, milvus.py) and
Ray (an embedding `Executor`, ray.py and ray_worker.py). Imported only when asked for; each
reads its own settings, and nothing outside this package knows them."""
