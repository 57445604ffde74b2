-- One database per service (the directory's is POSTGRES_DB); run once, on an empty data volume.
CREATE DATABASE lotse_routing OWNER lotse;
CREATE DATABASE lotse_notify OWNER lotse;
