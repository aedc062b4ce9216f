print("commcheck")
