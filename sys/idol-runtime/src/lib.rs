//! What idol-generated clients and servers share
