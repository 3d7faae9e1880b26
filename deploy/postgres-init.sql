-- One database per service (compose.yaml); each service's migrations create its tables.
CREATE DATABASE identity OWNER enrs;
CREATE DATABASE directory OWNER enrs;
CREATE DATABASE portal OWNER enrs;
